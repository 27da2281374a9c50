# The metadata servers' own protocol: Raft over the command log (docs/replication.md).
#
# Every metadata server of a replicated cluster serves MetaPeer beside MetaService (on the same
# port: MetaService.peer). The log being replicated is the command log itself: one entry is one
# committed batch of Commands (the record Committer::encodeBatch makes), numbered by `seq` from 1
# with no gaps, each tagged with the term of the leader that made it.
@0xc19d23bbe80603f4;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("basalt::rpc");

struct LogEntry {
  seq @0 :UInt64;
  term @1 :UInt64;
  payload @2 :Data;     # one batch, as Committer::encodeBatch encodes it
}

interface MetaPeer {
  # Raft's RequestVote. `node` is the candidate's index in the --peers list (from 1). With
  # `preVote` nothing changes on the receiver: it only says whether it would grant that vote
  # (a candidate stands only after a majority said yes, so a server that was cut off does not
  # depose a leader the others still hear from).
  requestVote @0 (term :UInt64, node :UInt32, lastSeq :UInt64, lastTerm :UInt64, preVote :Bool)
      -> (term :UInt64, granted :Bool);

  # Raft's AppendEntries (also the leader's heartbeat, with no entries). The receiver has entry
  # `prevSeq` with term `prevTerm`, or answers success = false with the last seq it has
  # (`lastSeq`, for the leader's next try), or needSnapshot when it has no usable state (a new
  # node, or one behind the leader's last checkpoint).
  appendEntries @1 (term :UInt64, node :UInt32, prevSeq :UInt64, prevTerm :UInt64,
                    entries :List(LogEntry), commitSeq :UInt64)
      -> (term :UInt64, success :Bool, lastSeq :UInt64, needSnapshot :Bool);

  # Raft's InstallSnapshot: a compacted copy of the leader's LMDB store holding every entry up to
  # `seq` (of term `seqTerm`), sent in pieces from offset 0; `done` on the last one, after which
  # the receiver replaces its store with it.
  installSnapshot @2 (term :UInt64, node :UInt32, seq :UInt64, seqTerm :UInt64, offset :UInt64,
                      data :Data, done :Bool)
      -> (term :UInt64, ok :Bool);
}

# What `basalt status` shows of one metadata server.
struct MetaNodeInfo {
  node @0 :UInt32;          # index in --peers (from 1)
  address @1 :Text;
  role @2 :Text;            # "leader", "follower", "candidate", or "unreachable"
  term @3 :UInt64;
  lastSeq @4 :UInt64;       # its log's last entry
  appliedSeq @5 :UInt64;    # entries applied to its store
}
