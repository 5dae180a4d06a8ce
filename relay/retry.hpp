// relay/retry.hpp — when to try a temporarily failed recipient again, and when to stop:
// exponential backoff from retry_base, doubling up to retry_max, with +-10 % jitter so
// that recipients failed together do not come back together; give up (bounce) after
// max_attempts tries (0: no limit) or max_age in the queue. Postfix-like defaults: 5 min,
// 4 h, 5 days.
#pragma once
#include <algorithm>
#include <cstdint>

#include "relay/timestamp.hpp"

namespace ringmail::relay {

struct RetryPolicy {
    std::int64_t base = 300;
    std::int64_t max = 4 * 3600;
    std::uint32_t max_attempts = 0;
    std::int64_t max_age = 5 * 86400;
};

// `attempts`: tries made so far, the failed one included (1 after the first).
constexpr bool give_up(const RetryPolicy& p, std::uint32_t attempts, Time created, Time now) noexcept {
    return (p.max_attempts != 0 && attempts >= p.max_attempts) || now - created >= p.max_age;
}

// `random`: any 32-bit value (the jitter's source).
constexpr Time next_try(const RetryPolicy& p, std::uint32_t attempts, Time now, std::uint32_t random) noexcept {
    const unsigned doublings = attempts == 0 ? 0 : std::min<std::uint32_t>(attempts - 1, 40);
    std::int64_t delay = p.base;
    for (unsigned i = 0; i < doublings && delay < p.max; ++i) delay *= 2;
    delay = std::min(delay, p.max);
    delay = delay * (90 + static_cast<std::int64_t>(random % 21)) / 100;  // 90 % .. 110 %
    return now + std::max<std::int64_t>(delay, 1);
}

}  // namespace ringmail::relay
