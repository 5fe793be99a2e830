// Declarations only: see Sources/CTorch/distributed.cpp. ProcessGroupGloo.hpp holds contexts by shared_ptr and calls setTimeout inline.
#pragma once
#include <chrono>

namespace gloo {
class Context {
 public:
  void setTimeout(std::chrono::milliseconds timeout);
};
}  // namespace gloo
