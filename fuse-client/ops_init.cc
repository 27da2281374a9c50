// INIT: negotiate capabilities; and the operation table.
#include <string>

#include "fuse-client/fs.h"
#include "fuse-client/ops.h"

namespace basalt::client {

namespace {

std::string capNames(unsigned caps) {
  static const struct {
    unsigned bit;
    const char* name;
  } kNames[] = {
      {FUSE_CAP_ASYNC_READ, "async_read"},         {FUSE_CAP_POSIX_LOCKS, "posix_locks"},
      {FUSE_CAP_ATOMIC_O_TRUNC, "atomic_o_trunc"}, {FUSE_CAP_EXPORT_SUPPORT, "export_support"},
      {FUSE_CAP_DONT_MASK, "dont_mask"},           {FUSE_CAP_SPLICE_WRITE, "splice_write"},
      {FUSE_CAP_SPLICE_MOVE, "splice_move"},       {FUSE_CAP_SPLICE_READ, "splice_read"},
      {FUSE_CAP_FLOCK_LOCKS, "flock"},             {FUSE_CAP_IOCTL_DIR, "ioctl_dir"},
      {FUSE_CAP_AUTO_INVAL_DATA, "auto_inval_data"}, {FUSE_CAP_READDIRPLUS, "readdirplus"},
      {FUSE_CAP_READDIRPLUS_AUTO, "readdirplus_auto"}, {FUSE_CAP_ASYNC_DIO, "async_dio"},
      {FUSE_CAP_WRITEBACK_CACHE, "writeback_cache"}, {FUSE_CAP_NO_OPEN_SUPPORT, "no_open"},
      {FUSE_CAP_PARALLEL_DIROPS, "parallel_dirops"}, {FUSE_CAP_POSIX_ACL, "posix_acl"},
      {FUSE_CAP_HANDLE_KILLPRIV, "handle_killpriv"}, {FUSE_CAP_CACHE_SYMLINKS, "cache_symlinks"},
      {FUSE_CAP_NO_OPENDIR_SUPPORT, "no_opendir"}, {FUSE_CAP_EXPLICIT_INVAL_DATA, "explicit_inval"},
  };
  std::string out;
  for (const auto& n : kNames) {
    if (caps & n.bit) {
      if (!out.empty()) out += ",";
      out += n.name;
    }
  }
  return out;
}

}  // namespace

namespace ops {

void init(void* userdata, fuse_conn_info* conn) {
  auto& fs = *static_cast<Filesystem*>(userdata);
  // readdirplus(+auto), atomic_o_trunc, async_read, parallel_dirops, handle_killpriv are libfuse's
  // defaults for the handlers we implement, as are posix_locks (getlk+setlk) and flock: the
  // metadata server holds locks for the whole cluster (ops_lock.cc).
  if (conn->capable & FUSE_CAP_EXPORT_SUPPORT) conn->want |= FUSE_CAP_EXPORT_SUPPORT;
  // The kernel would treat its own size/mtime as authoritative and ignore other clients' changes.
  conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
  if (conn->capable & FUSE_CAP_POSIX_LOCKS) conn->want |= FUSE_CAP_POSIX_LOCKS;
  if (conn->capable & FUSE_CAP_FLOCK_LOCKS) conn->want |= FUSE_CAP_FLOCK_LOCKS;
  conn->max_write = fs.opts.maxWrite;
  fs.log->info("FUSE protocol {}.{}; capable: {}", conn->proto_major, conn->proto_minor,
               capNames(conn->capable));
  fs.log->info("FUSE wants: {}; max_write {}, max_readahead {}", capNames(conn->want),
               conn->max_write, conn->max_readahead);
}

}  // namespace ops

const fuse_lowlevel_ops& basaltOps() {
  static const fuse_lowlevel_ops table = [] {
    fuse_lowlevel_ops o = {};
    o.init = ops::init;
    o.lookup = ops::lookup;
    o.forget = ops::forget;
    o.forget_multi = ops::forgetMulti;
    o.getattr = ops::getattr;
    o.setattr = ops::setattr;
    o.readlink = ops::readlink;
    o.mknod = ops::mknod;
    o.mkdir = ops::mkdir;
    o.unlink = ops::unlink;
    o.rmdir = ops::rmdir;
    o.symlink = ops::symlink;
    o.rename = ops::rename;
    o.link = ops::link;
    o.open = ops::open;
    o.read = ops::read;
    o.write = ops::write;
    o.flush = ops::flush;
    o.fallocate = ops::fallocate;
    o.release = ops::release;
    o.fsync = ops::fsync;
    o.opendir = ops::opendir;
    o.readdir = ops::readdir;
    o.releasedir = ops::releasedir;
    o.fsyncdir = ops::fsyncdir;
    o.statfs = ops::statfs;
    o.setxattr = ops::setxattr;
    o.getxattr = ops::getxattr;
    o.listxattr = ops::listxattr;
    o.removexattr = ops::removexattr;
    o.access = ops::access;
    o.create = ops::create;
    o.readdirplus = ops::readdirplus;
    o.getlk = ops::getlk;
    o.setlk = ops::setlk;
    o.flock = ops::flock;
    return o;
  }();
  return table;
}

}  // namespace basalt::client
