// Declarations only: see Sources/CTorch/distributed.cpp.
#pragma once
