// relay/message_id.hpp — a queued message's id: 63 bits, written as 16 lower-case hex
// digits ("queued as 0191d2c4a7f00001"). The high 43 bits are milliseconds since the
// epoch (good until the year 2248), the low 20 bits a counter, so ids sort by age as
// numbers and as text. Unique because the store creates each body file with O_EXCL.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/ascii.hpp"

namespace ringmail::relay {

struct MessageId {
    std::uint64_t value = 0;  // < 2^63, so that SQL's signed 64-bit integers keep the order

    static constexpr unsigned kCounterBits = 20;
    static constexpr std::size_t kTextSize = 16;

    friend constexpr auto operator<=>(MessageId, MessageId) = default;

    std::string text() const {
        std::string out(kTextSize, '0');
        for (std::size_t i = 0; i < kTextSize; ++i)
            out[kTextSize - 1 - i] = base::kLowerHex[(value >> (4 * i)) & 0xf];
        return out;
    }

    // Exactly 16 hex digits (either case) with the top bit clear; anything else is no id.
    static std::optional<MessageId> parse(std::string_view s) noexcept {
        if (s.size() != kTextSize) return std::nullopt;
        std::uint64_t v = 0;
        for (const char c : s) {
            const int d = base::hex_value(c);
            if (d < 0) return std::nullopt;
            v = v << 4 | static_cast<std::uint64_t>(d);
        }
        if (v >> 63) return std::nullopt;
        return MessageId{v};
    }
};

}  // namespace ringmail::relay
