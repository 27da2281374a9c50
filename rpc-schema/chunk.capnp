# The chunk service: what clients, peers and the metadata server ask of basalt-chunk, and what
# chunk servers ask of the metadata server.
#
# Write protocol (docs/chunk.md walks through each failure):
#  1. the client sends update(chunk, op) to the chunk's primary;
#  2. the primary checks its lease and the version, gives the op the next sequence number of the
#     chunk's log, applies it to its chunk file (data + CRCs) and forwards it to every backup;
#  3. each backup applies forwards strictly in sequence order, holding back any that arrive early;
#  4. the primary answers the client when every replica of the current set has applied the op.
@0x83a245ebf7b30524;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("basalt::rpc");

using Common = import "common.capnp";
using Status = Common.Status;
using ChunkRef = Common.ChunkRef;
using ServerAddress = Common.ServerAddress;

# One mutation of a chunk, as ordered by its primary.
struct ChunkOp {
  union {
    write @0 :Write;
    truncate @1 :Truncate;     # the chunk's length becomes `length` (shrink or grow with zeros)
    zero @2 :Zero;             # the range reads as zeros afterwards (punch hole / zero range)
    newVersion @3 :UInt64;     # primary -> backups only, in the log: the chunk's version becomes
                               # this (the metadata server dropped a failed backup). A client
                               # sending it in update gets EINVAL.
    writes @4 :List(Write);    # several writes applied in list order as one op (one log entry,
                               # one forward): clients batch small writes to one chunk this way.
                               # If one fails after an earlier one was applied, the replica is
                               # marked damaged (never half a batch on a readable replica).
  }
  struct Write {
    offset @0 :UInt32;
    data @1 :Data;
    rawLength @2 :UInt32;      # 0: `data` is the bytes. Otherwise `data` is one zstd frame of
                               # exactly rawLength bytes (chunk servers compress what they forward
                               # when it pays; docs/chunk.md, "Compression between servers").
  }
  struct Truncate {
    length @0 :UInt32;
  }
  struct Zero {
    offset @0 :UInt32;
    length @1 :UInt32;
  }
}

# Where a chunk lives and who orders its writes.
struct ChunkLayout {
  index @0 :UInt32;            # the chunk's index in the file
  chunk @1 :ChunkRef;          # id 0 = a hole (no chunk allocated yet; reads as zeros)
  replicas @2 :List(ServerAddress);
  primary @3 :UInt32;          # index into replicas of the primary (writes go there)
  leaseExpiryMs @4 :Int64;     # the primary's lease ends then (metadata server's clock, for logs)
}

# A chunk as a chunk server holds it.
struct ChunkInfo {
  chunk @0 :ChunkRef;
  length @1 :UInt32;           # bytes stored (a shorter chunk reads as zeros beyond its length)
  state @2 :ReplicaState;      # whether this replica may be read
}

enum ReplicaState {
  ok @0;                       # readable at chunk.version
  syncing @1;                  # assigned as a backup of a new version; waits for its primary's install
  damaged @2;                  # a write failed half-way (e.g. disk full); every read fails with EIO
}

interface ChunkService {
  # Client -> primary: apply one op to every live replica. Fails with ESTALE when the version is
  # not current or this server is not the primary (the client refetches the layout).
  # On success `version` is the chunk's version afterwards: higher than asked when a backup was
  # dropped during the op (the client should refetch the layout before its next op).
  update @0 (chunk :ChunkRef, op :ChunkOp) -> (status :Status, version :UInt64);

  # Read `length` bytes at `offset` from this replica; CRCs of the touched blocks are verified
  # (EIO on a mismatch: the client tries another replica). Bytes past the chunk's length are zeros.
  read @1 (chunk :ChunkRef, offset :UInt32, length :UInt32) -> (status :Status, data :Data);

  # Make every op so far durable (fsync) on every replica of the chunk.
  sync @2 (chunk :ChunkRef) -> (status :Status);

  # Primary -> backup: apply op number `seq` of the chunk's log (strictly in order).
  forward @3 (chunk :ChunkRef, seq :UInt64, op :ChunkOp) -> (status :Status);

  # Metadata server -> replica: the chunk now has this version and replica set; the replica at
  # `primary` is its primary until leaseMs from now. A new chunk is created empty. The primary
  # brings every backup to its own state before accepting writes. `fresh`: the chunk was just
  # allocated and no replica can hold data of it, so there is nothing to bring over: the primary
  # skips the installs, a backup starts ok instead of syncing, and the metadata server assigns
  # every replica at once (one round trip instead of three for a new file's first chunk).
  assign @4 (chunk :ChunkRef, replicas :List(ServerAddress), primary :UInt32, leaseMs :UInt32,
             fresh :Bool) -> (status :Status, info :ChunkInfo);

  # Metadata server -> replica: drop this chunk (every version). `belowVersion` non-zero: only a
  # replica older than that version (a stale one) is dropped; a replica at that version or newer was
  # copied here again meanwhile (e.g. moved back by the rebalancer) and stays (answer ok).
  delete @5 (chunkId :UInt64, belowVersion :UInt64) -> (status :Status);

  # Peer -> replica: the whole chunk at its current version, for bringing a replica up to date.
  fetch @6 (chunk :ChunkRef) -> (status :Status, info :ChunkInfo, data :Data);

  # Chunks this server holds.
  list @7 () -> (status :Status, chunks :List(ChunkInfo));

  # Primary -> backup, when a primary is assigned a new version: replace the replica's whole chunk
  # with `data` at `chunk.version` (state ok) and restart its log (the next forward is seq 1).
  # Accepted when chunk.version >= the replica's version, whether or not the replica's own assign
  # for that version arrived yet; ESTALE otherwise.
  # `rawLength` as in ChunkOp.Write: non-zero when `data` is a zstd frame of that many bytes.
  install @8 (chunk :ChunkRef, data :Data, rawLength :UInt32) -> (status :Status);
}

# The metadata server's face towards chunk servers (a second bootstrap on the same port).
interface ChunkRegistry {
  # A chunk server's first call after start: who it is, what it holds. `id` = its id from an earlier
  # registration (kept in its data dir), or 0 for a new server.
  register @0 (id :UInt32, address :Text, zone :Text, capacityBytes :UInt64, usedBytes :UInt64,
               chunks :List(ChunkInfo), service :ChunkService)
      -> (status :Status, id :UInt32, heartbeatMs :UInt32);
  heartbeat @1 (id :UInt32, capacityBytes :UInt64, usedBytes :UInt64, chunkCount :UInt64)
      -> (status :Status);
  # The primary could not reach a backup within its deadline: drop it from the set (new version).
  reportFailure @2 (chunk :ChunkRef, serverId :UInt32, reason :Text) -> (status :Status, newVersion :UInt64);
}
