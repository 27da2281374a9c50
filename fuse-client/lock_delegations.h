// The lock delegations this mount holds (docs/client.md, "Lock delegation"): inodes whose locks the
// metadata server lets this mount decide itself while no other session uses them. For each one:
// the generation the server gave, the mount's own LockTable of the locks held there (the same code
// the server decides with), when it was last used, and the credentials of the last lock call
// (used to commit the file's writes when the delegation goes back).
//
// A delegation ends when the server recalls it (another session wants the inode's locks), when the
// mount returns it, or when the session it was given under is gone (reset: the server released
// those locks with the session; LockTracker turns that into ENOLCK). take() hands the locks back
// exactly once per generation, and remembers the generation as over: a recall of a generation
// this mount has not adopted yet, or an answer that was on its way while the delegation went back,
// is refused by adopt, and the call asked again.
//
// While a delegation is being given back (its writes commit first), calls on that inode wait for
// whenSettled(): the locks must not change between the commit and the hand-over.
// Thread-safety: loop thread only.
#pragma once

#include <kj/async.h>
#include <kj/time.h>

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "fuse-client/request.h"
#include "meta/locks/lock_table.h"

namespace basalt::client {

class LockDelegations {
 public:
  // Drops every delegation (and its locks) when `session` is not the one they were given under.
  void useSession(uint64_t session);
  uint64_t session() const { return session_; }

  // The generation held for `ino` (0 = none).
  uint64_t generationOf(uint64_t ino) const;
  bool holds(uint64_t ino) const { return generationOf(ino) != 0; }
  // The server answered a call with delegation `gen` of `ino`: take it. False when that generation
  // was recalled before its answer came (the caller asks the server again).
  bool adopt(uint64_t ino, uint64_t gen, kj::TimePoint now);

  // Lock calls decided here (the inode must be held). req.owner.session is set here; requests
  // never wait (a blocked one answers EAGAIN: the caller gives the delegation back and lets the
  // server queue it).
  meta::LockOutcome setLock(uint64_t ino, meta::LockRequest req, const Credentials& cred, kj::TimePoint now);
  int getLock(uint64_t ino, meta::LockOwner owner, meta::ByteRange range, meta::LockType type,
              std::optional<meta::HeldLock>* conflict) const;
  void releaseOwner(uint64_t ino, meta::LockOwner owner);
  bool hasLocks(uint64_t ino) const { return !table_.locksOf(ino).empty(); }
  // Credentials of the last lock call on `ino` (for the commit before giving it back).
  Credentials credOf(uint64_t ino) const;

  // Takes delegation `gen` of `ino` out with its locks and answers their encoded state (nullopt
  // when this generation is not held). The generation is remembered as over (see adopt), with
  // the state handed over: a server that restarted before it committed that state recalls the
  // same generation again, and gets the same answer.
  std::optional<std::string> take(uint64_t ino, uint64_t gen);
  // Held inodes without locks, unused since `before`.
  std::vector<uint64_t> idleSince(kj::TimePoint before) const;
  size_t count() const { return held_.size(); }

  // Giving back: `ino` is busy from beginHandover to endHandover (which wakes whenSettled).
  void beginHandover(uint64_t ino) { handovers_[ino]; }
  void endHandover(uint64_t ino);
  bool handingOver(uint64_t ino) const { return handovers_.count(ino) != 0; }
  // Resolves when no hand-over of `ino` is under way.
  kj::Promise<void> whenSettled(uint64_t ino);

 private:
  struct Held {
    uint64_t gen = 0;
    kj::TimePoint lastUsed = kj::origin<kj::TimePoint>();
    Credentials cred;
  };
  void remember(uint64_t gen, std::optional<std::string> state);

  uint64_t session_ = 0;
  std::map<uint64_t, Held> held_;
  meta::LockTable table_;
  std::map<uint64_t, std::optional<std::string>> over_;  // generation -> the state handed over (nullopt: never held)
  std::deque<uint64_t> overOrder_;                       // oldest first, bounds over_
  std::map<uint64_t, std::vector<kj::Own<kj::PromiseFulfiller<void>>>> handovers_;  // ino -> who waits
};

}  // namespace basalt::client
