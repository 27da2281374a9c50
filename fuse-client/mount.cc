#include "fuse-client/mount.h"

#include <fcntl.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <vector>

#include "fuse-client/chunk_pool.h"
#include "fuse-client/errors.h"
#include "fuse-client/file_io.h"
#include "fuse-client/fs.h"
#include "fuse-client/fuse_channel.h"
#include "fuse-client/inode_table.h"
#include "fuse-client/meta_session.h"
#include "fuse-client/mountpoint.h"
#include "fuse-client/ops.h"

namespace basalt::client {

namespace {

// fuse_daemonize points stdio at /dev/null. Logs go to stderr, so when stderr was redirected (to a
// log file by a launcher) it is kept; a terminal is let go.
int daemonizeKeepingLog() {
  int saved = isatty(STDERR_FILENO) ? -1 : dup(STDERR_FILENO);
  int rc = fuse_daemonize(0);
  if (saved >= 0) {
    dup2(saved, STDERR_FILENO);
    close(saved);
  }
  return rc;
}

}  // namespace

int runMount(const MountOptions& opts) {
  Status ok = checkMountpoint(opts.mountpoint);
  if (!ok.isOk()) {
    fprintf(stderr, "basalt-mount: %s\n", ok.message().c_str());
    return 1;
  }
  auto log = makeLogger("mount");
  EventLoop loop;
  MetaSession meta(loop, MetaConfig{opts.metaAddress, opts.clientName, opts.rpcTimeoutMs,
                                    opts.timeoutSec},
                   log);
  bool connected = meta.connect().then([]() { return true; }, [](kj::Exception&& e) {
    fprintf(stderr, "basalt-mount: %s\n", describeException(e).c_str());
    return false;
  }).wait(loop.waitScope());
  if (!connected) return 1;

  InodeTable inodes;
  ChunkPool pool(loop, opts.rpcTimeoutMs);
  FileIo io(loop, meta, pool, inodes,
            IoConfig{opts.rpcTimeoutMs, opts.timeoutSec, opts.hedgeMs,
                     static_cast<uint64_t>(opts.writeBehindMiB) << 20,
                     static_cast<uint64_t>(opts.readAheadMiB) << 20,
                     static_cast<uint64_t>(opts.readCacheMiB) << 20},
            log);
  Filesystem fs(loop, opts, meta, inodes, io, log);

  std::vector<std::string> argvStore = fuseArgs(opts);
  std::vector<char*> argv;
  for (auto& a : argvStore) argv.push_back(a.data());
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
  fuse_session* se = fuse_session_new(&args, &basaltOps(), sizeof(fuse_lowlevel_ops), &fs);
  if (se == nullptr) {
    fprintf(stderr, "basalt-mount: invalid FUSE options\n");
    return 1;
  }
  if (fuse_session_mount(se, opts.mountpoint.c_str()) != 0) {
    fprintf(stderr, "basalt-mount: cannot mount on %s\n", opts.mountpoint.c_str());
    fuse_session_destroy(se);
    return 1;
  }
  fs.attach(se);
  if (!opts.foreground && daemonizeKeepingLog() != 0) {
    fuse_session_unmount(se);
    fuse_session_destroy(se);
    return 1;
  }
  log->info("mounted {} on {} (session {})", opts.metaAddress, opts.mountpoint, meta.sessionId());

  meta.startHeartbeat([&inodes]() { return inodes.openInodes(); });
  meta.onSession([&fs](rpc::Session::Client s, uint64_t id, bool reconnected) {
    fs.sessionOpened(kj::mv(s), id, reconnected);
  });
  int exitCode = 0;
  {
    FuseChannel channel(loop, se, log, opts.spinUs);
    auto signal = loop.onSignal({SIGINT, SIGTERM, SIGHUP}).then([&log](int sig) {
      log->info("{}: unmounting", strsignal(sig));
    });
    auto unmounted = channel.run().then([&log]() { log->info("unmounted by the kernel"); });
    unmounted.exclusiveJoin(kj::mv(signal)).wait(loop.waitScope());
  }
  fs.attach(nullptr);
  fuse_session_unmount(se);
  fuse_session_destroy(se);
  return exitCode;
}

}  // namespace basalt::client
