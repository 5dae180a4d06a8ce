// base/growth.hpp — appending to buffers that may grow to megabytes (message bodies).
// std::string doubles its buffer: each doubling copies, holding the old and the new
// buffer at once, so a 10 MB body briefly needs 16 MB and more. Past 1 MiB these grow in
// fewer, larger steps: to `room` at once when the caller knows the size limit, else
// fourfold. The system backs only the pages written, so room reserved and not yet used
// costs address space, not memory.
#pragma once
#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>

namespace ringmail::base {

inline void append_growing(std::string& s, std::string_view bytes, std::size_t room = 0) {
    constexpr std::size_t kLarge = std::size_t(1) << 20;
    const std::size_t need = s.size() + bytes.size();
    if (need > s.capacity() && s.capacity() >= kLarge)
        s.reserve(std::max({need, room, room > need ? 0 : s.capacity() * 4}));
    s.append(bytes);
}

}  // namespace ringmail::base
