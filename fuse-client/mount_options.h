// The command line of basalt-mount: `basalt-mount HOST:PORT MOUNTPOINT [-o opts] [-f] [-d]`.
//
// Basalt's own -o options are consumed here; every other -o option (allow_other, ro, debug,
// default_permissions, fsname=, subtype=, max_read=...) passes through to libfuse untouched, which
// rejects what it does not know.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "server/status.h"

namespace basalt::client {

struct MountOptions {
  std::string metaAddress;        // HOST:PORT of the metadata server
  std::string mountpoint;
  bool foreground = false;        // -f (and -d): do not daemonize
  bool showHelp = false;          // -h / --help
  // Long: the metadata server pushes other clients' changes (cache_watcher.h), and open always
  // asks the server. The timeouts bound staleness only while the push channel is down.
  double attrTimeout = 60.0;      // attr_timeout=SEC
  double entryTimeout = 60.0;     // entry_timeout=SEC
  double timeoutSec = 60.0;       // timeout=SEC: total deadline of a call while servers are unreachable
  uint32_t rpcTimeoutMs = 5000;   // rpc_timeout_ms=MS: deadline of one attempt
  uint32_t hedgeMs = 1000; // hedge_ms=MS: ask for a new primary / the next replica after this (0: never)
  uint32_t maxWrite = 1u << 20;   // max_write=BYTES (also passed to libfuse)
  // write_behind=MIB: bytes of writes acknowledged before the chunk servers have them (0 = off);
  // flush, fsync and close still wait for every replica.
  uint32_t writeBehindMiB = 64;
  // read_ahead=MIB: bytes fetched ahead for sequential readers, over all files (0 = off).
  uint32_t readAheadMiB = 32;
  // read_cache=MIB: 64 KiB blocks kept for small random reads (0 = off).
  uint32_t readCacheMiB = 32;
  // lock_delegation=0|1: let the metadata server delegate an inode's locks to this mount while no
  // other mount uses them (decided here, no RPC per lock call; docs/client.md).
  bool lockDelegation = true;
  // spin_us=US: when idle, keep polling /dev/fuse this long before sleeping, while that catches
  // requests (fuse-client/idle_spin.h; 0 = never).
  uint32_t spinUs = 20;
  std::string clientName;         // name=NAME (default HOSTNAME:MOUNTPOINT)
  std::string logLevel = "info";  // log_level=LEVEL ("debug" also via -o debug / -d)
  bool readOnly = false;          // ro
  std::vector<std::string> fuseOptions;  // passed to libfuse as one -o list
};

// Parses argv[1..] (without the program name). `isRoot`: the mount is made by root, which adds
// allow_other (a shared filesystem serves every user). `hostname` names the client by default.
// Fills fsname=basalt:HOST:PORT and subtype=basalt unless given. Errors are one line for the user.
Result<MountOptions> parseMountArgs(const std::vector<std::string>& args, bool isRoot,
                                    const std::string& hostname);

// argv for fuse_session_new: {"basalt-mount", "-o", "opt1,opt2,..."} (plus "-d" for debug).
std::vector<std::string> fuseArgs(const MountOptions& opts);

const char* mountUsage();

}  // namespace basalt::client
