#include "server/status.h"

#include <cstring>

namespace basalt {

std::string Status::toString() const {
  if (code_ == 0) return "ok";
  std::string s = strerrorname_np(code_) ? strerrorname_np(code_) : std::to_string(code_);
  if (!message_.empty()) s += ": " + message_;
  return s;
}

void Status::toWire(rpc::Status::Builder out) const {
  out.setCode(code_);
  if (!message_.empty()) out.setMessage(message_);
}

Status Status::fromWire(rpc::Status::Reader in) {
  return Status(in.getCode(), std::string(in.getMessage().cStr()));
}

}  // namespace basalt
