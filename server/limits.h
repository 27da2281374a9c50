// Process limits every daemon sets at start.
#pragma once

#include <string>

namespace basalt {

// Raises the open-file limit to its hard maximum (servers hold many sockets and chunk files).
// Returns a message describing a failure, or "".
std::string raiseOpenFileLimit();

}  // namespace basalt
