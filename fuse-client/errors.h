// The one mapping from Basalt's wire errors to the errno the kernel (and so the application) sees.
//
// Errors travel in two shapes inside the client: a wire rpc::Status (errno + message) in a reply,
// and a kj::Exception when a call could not be completed (server unreachable past the deadline,
// interrupted, a bug). Both end in an errno through the functions here and nowhere else.
// Thread-safety: pure functions.
#pragma once

#include <kj/exception.h>

#include <cstdint>
#include <string>

#include "rpc-schema/common.capnp.h"

namespace basalt::client {

// A wire status code as the errno to reply. 0 stays 0. A valid Linux errno passes through (a
// negative one is accepted as its positive value). ENOSYS becomes EOPNOTSUPP: for many operations
// the kernel takes ENOSYS as "never call this again on this mount", which one server's answer must
// not decide. Anything else (unknown numbers) becomes EIO.
int errnoFromStatus(int32_t code);
int errnoFromStatus(rpc::Status::Reader status);

// An exception that carries an errno for the FUSE reply (used for "unreachable until the deadline"
// → EIO, "interrupted while waiting" → EINTR, and wire errors surfaced as exceptions).
kj::Exception errnoException(int err, const std::string& message);

// The errno a failed call replies: the errno of an errnoException; EIO for anything else
// (disconnects that escaped the retry loop, bugs).
int errnoFromException(const kj::Exception& e);

// Whether `e` was made by errnoException (its cause was already logged where it was made).
bool isErrnoException(const kj::Exception& e);

// A short human reason from a kj exception ("connection refused", "timed out"), for log lines.
std::string describeException(const kj::Exception& e);

}  // namespace basalt::client
