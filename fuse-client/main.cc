// basalt-mount HOST:PORT MOUNTPOINT [-o opts] [-f] [-d]: parses the command line and runs the mount.
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "server/limits.h"
#include "fuse-client/mount.h"
#include "fuse-client/mount_options.h"
#include "server/log.h"

int main(int argc, char** argv) {
  basalt::raiseOpenFileLimit();  // best effort: many sockets and chunk files
  std::vector<std::string> args(argv + 1, argv + argc);
  char host[256] = "client";
  gethostname(host, sizeof(host) - 1);
  auto parsed = basalt::client::parseMountArgs(args, geteuid() == 0, host);
  if (!parsed.isOk()) {
    fprintf(stderr, "basalt-mount: %s\n%s", parsed.status().message().c_str(),
            basalt::client::mountUsage());
    return 1;
  }
  if (parsed->showHelp) {
    fputs(basalt::client::mountUsage(), stdout);
    return 0;
  }
  if (!basalt::setLogLevel(parsed->logLevel)) {
    fprintf(stderr, "basalt-mount: unknown log level '%s'\n", parsed->logLevel.c_str());
    return 1;
  }
  return basalt::client::runMount(*parsed);
}
