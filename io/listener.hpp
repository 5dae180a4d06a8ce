// io/listener.hpp — listening sockets: one per reactor on the same port with
// SO_REUSEPORT, so the kernel spreads connections and reactors share nothing.
#pragma once
#include <cstdint>
#include <vector>

namespace ringmail::io {

// Opens `count` sockets on `port` (0: a free port, the same for all); loopback only when
// `local`. Throws std::runtime_error naming the port and the reason. `port` gets the
// port actually bound.
std::vector<int> open_listeners(bool local, std::uint16_t& port, unsigned count);

}  // namespace ringmail::io
