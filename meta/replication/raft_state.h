// What a metadata server of a replicated cluster must remember across restarts besides its store
// and command log: its current Raft term and whom it voted for in it (docs/replication.md). A vote
// forgotten after a crash could elect two leaders in one term.
//
// The file (DIR/raft-state) is 16 bytes, little-endian: term u64, vote u32, CRC32C of the first 12
// bytes u32. It is replaced atomically (temp file, fsync, rename, fsync of the directory).
// Thread-safety: not thread-safe; the replica's loop thread only.
#pragma once

#include <cstdint>
#include <string>

#include "server/status.h"

namespace basalt::meta {

struct RaftState {
  uint64_t term = 0;
  uint32_t vote = 0;  // node voted for in `term` (0: none)

  // A missing file is term 0, no vote; a damaged one is an error (the server must not guess).
  static Result<RaftState> load(const std::string& dir);
  // Durable when it returns.
  Status save(const std::string& dir) const;
};

}  // namespace basalt::meta
