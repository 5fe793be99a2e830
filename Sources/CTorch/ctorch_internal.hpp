// Shared between the shim's C++ files (not part of the C API).
#pragma once
#include <ATen/ATen.h>

#include <string>

struct pt_tensor_s {
  at::Tensor t;
};

/// Records `message` as the thread's pt_last_error().
void ctorch_set_last_error(std::string message);
