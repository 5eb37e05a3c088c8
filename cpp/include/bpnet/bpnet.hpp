// bpnet: neural networks trained by backpropagation. The one header a C++ user includes.
#pragma once

#include "bpnet/activation.hpp"
#include "bpnet/export.hpp"
#include "bpnet/loss.hpp"
#include "bpnet/model_io.hpp"
#include "bpnet/network.hpp"
#include "bpnet/threads.hpp"

namespace bpnet {
inline constexpr const char* version = "0.1.0";
}
