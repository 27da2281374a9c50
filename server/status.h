// The one error vocabulary of Basalt: an errno value plus a message that names what failed.
// Domain code returns Status (or Result<T>); exceptions are for bugs and disconnects.
#pragma once

#include <rpc-schema/common.capnp.h>

#include <cerrno>
#include <string>
#include <utility>

namespace basalt {

class Status {
 public:
  Status() = default;
  static Status ok() { return Status(); }
  // `code` is a positive errno value; 0 means success.
  static Status error(int code, std::string message) { return Status(code, std::move(message)); }

  bool isOk() const { return code_ == 0; }
  int code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string toString() const;

  void toWire(rpc::Status::Builder out) const;
  static Status fromWire(rpc::Status::Reader in);

 private:
  Status(int code, std::string message) : code_(code), message_(std::move(message)) {}
  int code_ = 0;
  std::string message_;
};

// A value or the Status that explains its absence.
template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit on purpose
  Result(Status status) : status_(std::move(status)) {}  // NOLINT
  bool isOk() const { return status_.isOk(); }
  const Status& status() const { return status_; }
  T& value() { return value_; }
  const T& value() const { return value_; }
  T* operator->() { return &value_; }
  T& operator*() { return value_; }

 private:
  Status status_;
  T value_{};
};

}  // namespace basalt
