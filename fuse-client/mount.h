// A whole mount: check the mountpoint, connect and open a session (failing with one clear line
// before anything is mounted), mount, daemonize unless foreground, serve until unmount or
// SIGINT/SIGTERM/SIGHUP, unmount.
// Thread-safety: runs the process's one event loop; call from main only.
#pragma once

#include "fuse-client/mount_options.h"

namespace basalt::client {

// Returns the process exit code: 0 after a clean unmount or signal, 1 when mounting failed (the
// reason printed to stderr as one line).
int runMount(const MountOptions& opts);

}  // namespace basalt::client
