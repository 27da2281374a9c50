# Types shared by every Basalt service.
#
# Rules for this folder: it is the single source of truth for the wire. Add fields only at the end
# of a struct with the next ordinal; never reuse or renumber an ordinal; document every field.
@0xcf70ef60e9ff6523;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("basalt::rpc");

# The outcome of every call. `code` is a Linux errno value (0 = success); `message` says, for a
# human, what failed and which object (inode, chunk, server) was involved. The client maps `code`
# to the errno its caller sees with one function (fuse-client/errors.h).
struct Status {
  code @0 :Int32;
  message @1 :Text;
}

# A point in time: seconds and nanoseconds since the Unix epoch.
struct Time {
  sec @0 :Int64;
  nsec @1 :UInt32;
}

# The attributes of one inode, as stat(2) reports them.
struct Attr {
  ino @0 :UInt64;          # inode number; root is 1
  generation @1 :UInt64;   # bumped when an inode number is ever reused (FUSE's generation)
  mode @2 :UInt32;         # file type bits (S_IFMT) and permission bits
  nlink @3 :UInt32;
  uid @4 :UInt32;
  gid @5 :UInt32;
  rdev @6 :UInt64;         # device number for character and block device nodes
  size @7 :UInt64;         # bytes; for a symlink the length of its target
  blocks @8 :UInt64;       # 512-byte blocks allocated (what du shows)
  atime @9 :Time;
  mtime @10 :Time;
  ctime @11 :Time;
  replication @12 :UInt8;  # replicas per chunk of this file (directories: inherited by new files)
  chunkSize @13 :UInt32;   # bytes per chunk of this file (fixed at create)
}

# Who is asking: the caller's identity as the kernel reports it for a FUSE request.
struct Credentials {
  uid @0 :UInt32;
  gid @1 :UInt32;
  groups @2 :List(UInt32);  # supplementary groups
  pid @3 :UInt32;
  umask @4 :UInt32;
}

# A chunk replica is identified by id and version: a replica whose version is older than the
# metadata server's is stale and is never read or written.
struct ChunkRef {
  id @0 :UInt64;
  version @1 :UInt64;
}

# A chunk server as clients and peers reach it.
struct ServerAddress {
  id @0 :UInt32;           # assigned by the metadata server at first registration, never reused
  address @1 :Text;        # "HOST:PORT"
}
