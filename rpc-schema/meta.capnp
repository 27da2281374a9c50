# The metadata service: what a mount (and the admin CLI) asks of basalt-meta.
#
# A client calls MetaService.openSession once and gets a Session capability; every filesystem call
# is a method on it, so the caller's session is bound to the capability. Reads are plain methods.
# Every mutation travels as a Command: the very record the metadata server logs and applies, so the
# wire and the replicated log cannot drift apart. The client fills in what it knows (the op, its
# credentials, its sequence number); the leader overwrites everything non-deterministic (time, new
# ids) before the command is applied.
@0xa74682d6b17dc3ce;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("basalt::rpc");

using Common = import "common.capnp";
using Status = Common.Status;
using Time = Common.Time;
using Attr = Common.Attr;
using Credentials = Common.Credentials;
using ChunkRef = Common.ChunkRef;
using Chunk = import "chunk.capnp";
using Raft = import "raft.capnp";

# Bits of SetAttr.valid: which fields of a SetAttr command to apply.
const setMode :UInt32 = 1;
const setUid :UInt32 = 2;
const setGid :UInt32 = 4;
const setSize :UInt32 = 8;
const setAtime :UInt32 = 16;       # atime from SetAttr.atime
const setMtime :UInt32 = 32;       # mtime from SetAttr.mtime
const setAtimeNow :UInt32 = 64;    # atime := command time (utimensat UTIME_NOW)
const setMtimeNow :UInt32 = 128;   # mtime := command time
const setKillSuidGid :UInt32 = 256; # clear S_ISUID, and S_ISGID when group-executable (write/truncate by a non-owner)
const setReplication :UInt32 = 512; # replicas per chunk (files: chunks allocated from now on; dirs: inherited by new entries)
const setCommitWrite :UInt32 = 1024; # first the CommitWrite of this client's earlier writes (commitSize, commitKillSuidGid): one commit for both

# Flags of Rename.flags (the values of renameat2). Named so they do not clash with the libc macros.
const renameFlagNoReplace :UInt32 = 1;
const renameFlagExchange :UInt32 = 2;

# Flags of SetXattr.flags (the values of setxattr(2)).
const xattrFlagCreate :UInt32 = 1;
const xattrFlagReplace :UInt32 = 2;

# One metadata mutation. apply(command, state) is the only code that changes metadata; it depends on
# nothing but this record and the current state.
struct Command {
  time @0 :Time;           # leader-filled: "now" for every timestamp this command sets
  session @1 :UInt64;      # the issuing session (0 = the server itself)
  seq @2 :UInt64;          # the session's sequence number for this request; (session, seq) identifies a
                           # retry, which is answered from the dedup table instead of applied again. 0 = none
  cred @3 :Credentials;    # the caller; apply() checks permissions against these

  union {
    noop @4 :Void;
    create @5 :Create;
    link @6 :Link;
    remove @7 :Remove;
    rename @8 :Rename;
    setAttr @9 :SetAttr;
    setXattr @10 :SetXattr;
    removeXattr @11 :RemoveXattr;
    commitWrite @12 :CommitWrite;
    reclaim @13 :Reclaim;
    openSession @14 :OpenSession;
    closeSession @15 :CloseSession;
    setChunk @16 :SetChunk;
    registerServer @17 :RegisterServer;
    dropGarbage @18 :DropGarbage;
    setLocks @19 :SetLocks;
    setServerDraining @20 :SetServerDraining;
  }

  # mknod, mkdir, symlink and create(2). The mode already has the caller's umask applied.
  struct Create {
    parent @0 :UInt64;
    name @1 :Text;
    mode @2 :UInt32;         # S_IFREG/S_IFDIR/S_IFLNK/S_IFIFO/S_IFSOCK/S_IFCHR/S_IFBLK | permissions
    rdev @3 :UInt64;         # device nodes only
    target @4 :Text;         # symlinks only
    exclusive @5 :Bool;      # O_EXCL (and always for mkdir/mknod/symlink): EEXIST if the name exists;
                             # otherwise an existing regular file is opened instead
    truncate @6 :Bool;       # O_TRUNC: an existing regular file is truncated to 0
    open @7 :Bool;           # also open the file: Reply.handle is set
    openFlags @8 :UInt32;    # the open(2) flags, when open is set
    ino @9 :UInt64;          # leader-filled: the new inode's number
    generation @10 :UInt64;  # leader-filled: the new inode's generation
    handle @11 :UInt64;      # leader-filled when `open` is set: the open handle Reply.handle returns
  }

  # link(2): a new name for an existing inode (not a directory).
  struct Link {
    ino @0 :UInt64;
    newParent @1 :UInt64;
    newName @2 :Text;
  }

  # unlink(2) and rmdir(2).
  struct Remove {
    parent @0 :UInt64;
    name @1 :Text;
    directory @2 :Bool;      # rmdir: the target must be an empty directory
  }

  # rename(2) and renameat2(2).
  struct Rename {
    parent @0 :UInt64;
    name @1 :Text;
    newParent @2 :UInt64;
    newName @3 :Text;
    flags @4 :UInt32;        # renameFlagNoReplace | renameFlagExchange (the renameat2 values)
  }

  # chmod, chown, truncate, utimensat.
  struct SetAttr {
    ino @0 :UInt64;
    valid @1 :UInt32;        # bits set* above
    mode @2 :UInt32;         # permission bits (and suid/sgid/sticky); the type is never changed
    uid @3 :UInt32;
    gid @4 :UInt32;
    size @5 :UInt64;
    atime @6 :Time;
    mtime @7 :Time;
    handle @8 :UInt64;       # the open handle the change was made through (ftruncate), 0 = by path
    replication @9 :UInt8;   # with setReplication (1..16)
    commitSize @10 :UInt64;  # with setCommitWrite: as CommitWrite.size
    commitKillSuidGid @11 :Bool;  # with setCommitWrite: as CommitWrite.killSuidGid
  }

  struct SetXattr {
    ino @0 :UInt64;
    name @1 :Text;
    value @2 :Data;
    flags @3 :UInt32;        # xattrFlagCreate | xattrFlagReplace (the setxattr values)
  }

  struct RemoveXattr {
    ino @0 :UInt64;
    name @1 :Text;
  }

  # The data path reports what a write did: the file is now at least `size` bytes long, its mtime and
  # ctime become the command time. Never shrinks a file (truncation is SetAttr).
  struct CommitWrite {
    ino @0 :UInt64;
    size @1 :UInt64;
    killSuidGid @2 :Bool;    # the writer was not the owner: clear suid/sgid as write(2) does
  }

  # Server-internal: free an inode whose last name and last open handle are gone.
  struct Reclaim {
    ino @0 :UInt64;
  }

  # Server-internal: a session appears (id leader-filled) or ends.
  struct OpenSession {
    id @0 :UInt64;
    clientName @1 :Text;
  }
  struct CloseSession {
    id @0 :UInt64;
  }

  # Server-internal: chunk `index` of file `ino` is chunk `chunkId` at `version` on `replicas`
  # (chunk server ids, the first the preferred primary). Allocation (expectVersion 0: the entry must
  # not exist yet, else EEXIST) or a new version (the entry must be at expectVersion, else ESTALE).
  struct SetChunk {
    ino @0 :UInt64;
    index @1 :UInt32;
    chunkId @2 :UInt64;
    version @3 :UInt64;
    replicas @4 :List(UInt32);
    expectVersion @5 :UInt64;
    replacesChunk @6 :UInt64;  # non-zero: the entry holds this chunk (at expectVersion), which is
                               # replaced by chunkId and goes to the garbage table (a chunk that
                               # never held data, placed anew when its first primary failed)
  }

  # Server-internal: chunk server `id` is reached at `address` and lives in failure zone `zone`.
  struct RegisterServer {
    id @0 :UInt32;
    address @1 :Text;
    zone @2 :Text;
  }

  # Server-internal (`basalt drain`): chunk server `id` leaves the placement ring while `draining`;
  # its chunks are moved to other servers by the rebalancer. ENOENT for an unknown server.
  struct SetServerDraining {
    id @0 :UInt32;
    draining @1 :Bool;
  }

  # Server-internal: a freed chunk has been deleted from every replica that could be reached.
  struct DropGarbage {
    chunkId @0 :UInt64;
  }

  # Server-internal: the held byte-range and flock locks of inode `ino` are now `state` (the
  # leader's LockTable::encodeInode, format in docs/formats.md); an empty state deletes the record.
  # `delegate` is the session that now decides the inode's locks itself (a lock delegation,
  # docs/meta.md "Lock delegation"), with generation `delegation`; 0 = none. A delegated inode's
  # server-side state is empty. Idempotent: applying it again stores the same bytes.
  struct SetLocks {
    ino @0 :UInt64;
    state @1 :Data;
    delegate @2 :UInt64;
    delegation @3 :UInt64;
  }
}

# The answer to one Command.
struct Reply {
  status @0 :Status;
  attr @1 :Attr;           # the inode the command created or changed, after the change (when any)
  handle @2 :UInt64;       # Create with open: the new open handle
  existed @3 :Bool;        # Create without exclusive found an existing file and opened it
}

# One directory entry as readDir returns it.
struct DirEntry {
  name @0 :Text;
  ino @1 :UInt64;
  mode @2 :UInt32;         # only the S_IFMT bits are guaranteed without `plus`
  cookie @3 :UInt64;       # pass this back to continue after this entry; stable while the directory changes
  attr @4 :Attr;           # full attributes, with readDir's `plus`
}

# statfs(2).
struct FsStat {
  blockSize @0 :UInt32;
  blocks @1 :UInt64;       # total capacity in blockSize units (sum over chunk servers)
  blocksFree @2 :UInt64;
  blocksAvail @3 :UInt64;
  files @4 :UInt64;
  filesFree @5 :UInt64;
  nameMax @6 :UInt32;
}

# What `basalt status` shows.
struct ClusterInfo {
  metaAddress @0 :Text;
  inodes @1 :UInt64;
  sessions @2 :List(SessionInfo);
  chunkServers @3 :List(ChunkServerInfo);
  uptimeMs @4 :UInt64;
  chunks @5 :UInt64;            # chunks in the chunk map (at the last repair scan)
  underReplicated @6 :UInt64;   # chunks with fewer live replicas than their file asks for
  missing @7 :UInt64;           # chunks with no live replica at all (unreadable until one returns)
  repairsDone @8 :UInt64;       # replica sets restored since this server started
  repairsInFlight @9 :UInt32;
  # Rebalancing (chunks whose replica set differs from their placement on the ring of usable,
  # non-draining servers), at the last scan: chunks still to move, moves in flight, moves done
  # since this server started.
  rebalanceToMove @10 :UInt64;
  rebalanceInFlight @11 :UInt32;
  rebalanceDone @12 :UInt64;
  # Locks: inodes with locks or waiters decided by the server, inodes delegated to a mount now, and
  # delegations granted and recalled since this server started.
  lockedInodes @13 :UInt64;
  lockDelegations @14 :UInt64;
  lockDelegationsGranted @15 :UInt64;
  lockRecalls @16 :UInt64;
  # Since this server started: commits (batches made durable) and the commands they held, the
  # largest batch, and the clients' read requests by kind (how much the mounts' caches spare it).
  commits @17 :UInt64;
  commandsCommitted @18 :UInt64;
  largestBatch @19 :UInt32;
  lookupRequests @20 :UInt64;
  getAttrRequests @21 :UInt64;
  readDirRequests @22 :UInt64;
  layoutRequests @23 :UInt64;
  # The metadata servers of a replicated cluster (empty for a single one): the leader answering
  # and what it knows of each (its own entry first).
  metaNodes @24 :List(Raft.MetaNodeInfo);

  struct SessionInfo {
    id @0 :UInt64;
    clientName @1 :Text;
    leaseRemainingMs @2 :Int64;
    openHandles @3 :UInt32;
  }
  struct ChunkServerInfo {
    id @0 :UInt32;
    address @1 :Text;
    zone @2 :Text;
    alive @3 :Bool;
    capacityBytes @4 :UInt64;
    usedBytes @5 :UInt64;
    chunks @6 :UInt64;
    lastHeartbeatMsAgo @7 :Int64;
    state @8 :ServerState;
    draining @9 :Bool;        # `basalt drain`: leaving the ring; its chunks move elsewhere
    chunksInMap @10 :UInt64;  # replicas the chunk map places on it (at the last scan)
    movesOffInFlight @11 :UInt32;  # rebalancing moves off this server in flight
    movesOffDone @12 :UInt64;      # moves off this server done since the metadata server started
  }
  enum ServerState {
    alive @0;    # heard from within suspectMs
    suspect @1;  # silent for suspectMs: no new chunks or primaries on it (it may only be slow)
    dead @2;     # silent for deadMs (or not registered since the metadata server started): its
                 # replicas are re-replicated, nothing is sent to it until it registers again
  }
}

interface Session {
  # Every mutation. Retrying with the same (session, seq) returns the first answer.
  # A create of a regular file also answers with its chunk 0's layout when that chunk's primary
  # already holds a lease (allocated with the create): the first write needs no getLayout.
  mutate @0 (command :Command) -> (reply :Reply, layout :Chunk.ChunkLayout);

  lookup @1 (cred :Credentials, parent :UInt64, name :Text) -> (status :Status, attr :Attr);
  getAttr @2 (ino :UInt64) -> (status :Status, attr :Attr);
  # Entries after `cookie` (0 = from the start, which includes "." and ".."), at most maxEntries.
  readDir @3 (cred :Credentials, ino :UInt64, cookie :UInt64, maxEntries :UInt32, plus :Bool)
      -> (status :Status, entries :List(DirEntry), eof :Bool);
  readLink @4 (ino :UInt64) -> (status :Status, target :Text);
  getXattr @5 (cred :Credentials, ino :UInt64, name :Text) -> (status :Status, value :Data);
  listXattr @6 (cred :Credentials, ino :UInt64) -> (status :Status, names :List(Text));
  statFs @7 () -> (status :Status, stat :FsStat);
  # access(2): mask of R_OK|W_OK|X_OK (F_OK = 0).
  access @8 (cred :Credentials, ino :UInt64, mask :UInt32) -> (status :Status);
  # open(2) of an existing inode: permission check against flags; O_TRUNC truncates (a mutation with
  # this seq). The handle keeps an unlinked inode alive until release.
  open @9 (cred :Credentials, ino :UInt64, flags :UInt32, seq :UInt64)
      -> (status :Status, attr :Attr, handle :UInt64);
  release @10 (handle :UInt64) -> (status :Status);
  # Heartbeat: renews the session lease. `openHandles` re-declares this client's open handles
  # (after a metadata server restart), so open-unlinked files are not reclaimed under it.
  renew @11 (openInodes :List(UInt64)) -> (status :Status, leaseMs :UInt32);
  # Where chunk `index` of a file lives. forWrite: allocate the chunk if it is a hole and make sure one
  # replica holds a primary lease. `unresponsive`: the id of the primary the caller was given, when a
  # call to it has gone unanswered for a while (0 = none): the answer then waits until that server's
  # next heartbeat is due, so it names a new primary (after the old lease) if the server is hung,
  # or the same one if it is only slow.
  getLayout @12 (ino :UInt64, index :UInt32, forWrite :Bool, unresponsive :UInt32)
      -> (status :Status, layout :Chunk.ChunkLayout);

  # Locks (docs/meta.md, "Locks"). A lock's owner is (this session, `owner`, `kind`): kind is
  # lockKindPosix (owner = the kernel's lock_owner), lockKindOfd or lockKindFlock (owner = the open
  # handle, one per open file description). `type` is lockTypeRead/lockTypeWrite/lockTypeUnlock; the range is
  # [start, end] inclusive, end = 0xffffffffffffffff meaning to EOF (flock ignores the range). `pid`
  # is only reported by getLock. The kernel has already checked the fd's access mode.
  #
  # setLock: F_SETLK(W) / flock(2). Without `wait` a conflict answers EAGAIN. With `wait` the answer
  # comes when the lock is granted, or EDEADLK (the wait would close a cycle of POSIX owners), EINTR
  # (cancelLock of `waiter`, a client-chosen id unique within the session), ESTALE (the session's
  # lease expired meanwhile). Lock state is durable before any answer. ESTALE also answers calls of
  # an expired session: its locks were released.
  #
  # Lock delegation (docs/meta.md): with `mayDelegate`, the server may answer a setLock with
  # `delegation` != 0 instead of deciding: this session now holds the inode's lock delegation of
  # that generation and must decide the request itself, as it decides every later lock call on the
  # inode, until the delegation is recalled (CacheWatcher.recallLocks) or returned (returnLocks).
  # getLock and releaseLocks answer `delegation` != 0 the same way when the caller holds it. A
  # client that does not know the generation (it answered a recall of it before this answer came)
  # sends the call again.
  setLock @13 (ino :UInt64, owner :UInt64, kind :UInt8, type :UInt8, start :UInt64, end :UInt64,
               pid :UInt32, wait :Bool, waiter :UInt64, mayDelegate :Bool)
      -> (status :Status, delegation :UInt64);
  # F_GETLK: the conflicting held lock with the lowest start, if any (conflict false: none).
  getLock @14 (ino :UInt64, owner :UInt64, kind :UInt8, type :UInt8, start :UInt64, end :UInt64)
      -> (status :Status, conflict :Bool, type :UInt8, start :UInt64, end :UInt64, pid :UInt32,
          delegation :UInt64);
  # Ends the blocked setLock of `waiter`: it answers EINTR (unless it was granted already). Unknown
  # waiters are not an error.
  cancelLock @15 (waiter :UInt64) -> (status :Status);
  # Drops every lock the owner holds on `ino` (close(2) for POSIX owners; the last close of an open
  # file description for OFD and flock owners).
  releaseLocks @16 (ino :UInt64, owner :UInt64, kind :UInt8) -> (status :Status, delegation :UInt64);

  # From now on, this session hears of other sessions' changes through `watcher` (replacing any
  # earlier one). Changes made while a session had no working watcher are not replayed: a mount
  # registers again after every reconnect and then drops all its caches.
  watch @17 (watcher :CacheWatcher) -> (status :Status);

  # Gives the lock delegation of `ino`, generation `delegation`, back: `state` is every lock this
  # session holds there (LockTable::encodeInode; every owner must be this session). Durable before
  # the answer. ESTALE when the server does not know this delegation (the session expired, or it
  # was recalled already).
  returnLocks @18 (ino :UInt64, delegation :UInt64, state :Data) -> (status :Status);
}

# Lock kinds and types of Session.setLock/getLock/releaseLocks.
const lockKindPosix :UInt8 = 0;
const lockKindOfd :UInt8 = 1;
const lockKindFlock :UInt8 = 2;
const lockTypeUnlock :UInt8 = 0;
const lockTypeRead :UInt8 = 1;
const lockTypeWrite :UInt8 = 2;

# Metadata server -> mount, the mount's callback object: what other sessions changed, after it is
# durable, so the mount drops it from its caches (the kernel's attribute, name and page caches) and
# may keep them for long. `inodes`: attributes changed; `data`: the file's contents or size changed
# too (drop cached pages); `entries`: names created, removed or renamed (negative entries included).
interface CacheWatcher {
  invalidate @0 (inodes :List(UInt64), data :List(UInt64), entries :List(EntryName)) -> ();
  # Another session needs the locks of `ino`: give back the delegation of generation `delegation`.
  # The mount commits its writes to the file first (whoever locks next must see them), then answers
  # with every lock it holds there (`held`), and stops deciding that inode's locks. held = false: the
  # mount does not hold that generation (it returned it already, or has not heard of it yet; it
  # will then not take it).
  recallLocks @1 (ino :UInt64, delegation :UInt64) -> (held :Bool, state :Data);
}

struct EntryName {
  parent @0 :UInt64;
  name @1 :Text;
}

interface MetaService {
  # A mount's first call. `resume` = a session id this client held before (after a reconnect), or 0.
  openSession @0 (clientName :Text, resume :UInt64)
      -> (status :Status, session :Session, id :UInt64, leaseMs :UInt32);
  clusterInfo @1 () -> (info :ClusterInfo);
  # For chunk servers: the registry they register and heartbeat with.
  chunkRegistry @2 () -> (registry :Chunk.ChunkRegistry);
  # Every allocated chunk with its replicas, in chunk id order after `after`, at most `max` (for
  # `basalt verify` and operators). `done` when there are no more.
  listChunks @3 (after :UInt64, max :UInt32) -> (status :Status, chunks :List(ChunkPlacement), done :Bool);
  # `basalt drain`: marks chunk server `server` (its id in decimal, or its HOST:PORT) draining (or,
  # with `undrain`, not draining). Durable. A draining server leaves the placement ring: no new
  # chunks, and the rebalancer moves its chunks to their new places. ENOENT for an unknown server.
  drain @4 (server :Text, undrain :Bool) -> (status :Status, id :UInt32);
  # The Raft protocol between the metadata servers of a replicated cluster (raft.capnp).
  # A metadata server that is not the leader answers every other method with a DISCONNECTED
  # exception ("not the leader"), so clients and chunk servers move on to the next address.
  peer @5 () -> (peer :Raft.MetaPeer);
}

# Where one chunk of one file lives (listChunks).
struct ChunkPlacement {
  ino @0 :UInt64;
  index @1 :UInt32;
  chunk @2 :ChunkRef;
  replicas @3 :List(Common.ServerAddress);
  zones @4 :List(Text);        # the failure zone of each replica's server ("" = none), same order
}
