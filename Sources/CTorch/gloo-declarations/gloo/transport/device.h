// Declarations only: see Sources/CTorch/distributed.cpp. Held by pointer in ProcessGroupGloo.hpp.
#pragma once

namespace gloo::transport {
class Device;
class UnboundBuffer;
}  // namespace gloo::transport
