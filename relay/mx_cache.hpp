// relay/mx_cache.hpp — whole MX answers (hosts with their addresses) by domain, each kept
// for its TTL, at most `capacity` of them (least recently used goes first). Ours on top of
// unbound's own record cache: a hit here costs no pipe round trip to unbound's thread and
// no re-assembly of MX + A + AAAA. Time is an argument (milliseconds, any monotonic base).
#pragma once
#include <cstdint>
#include <list>
#include <string>
#include <unordered_map>

#include "relay/mx_result.hpp"

namespace ringmail::relay {

class MxCache {
public:
    explicit MxCache(std::size_t capacity) : capacity_(capacity) {}

    // The answer for `domain` (normalized) if it has not expired; nullptr otherwise. Valid
    // until the next put(). An expired entry is dropped. `remaining`: seconds it has left
    // (rounded up).
    const MxResult* get(const std::string& domain, std::uint64_t now_ms, std::uint32_t* remaining = nullptr);
    // Keeps `r` for r.ttl seconds (nothing when 0 or capacity is 0), replacing an older one.
    void put(const MxResult& r, std::uint64_t now_ms);
    std::size_t size() const noexcept { return map_.size(); }

private:
    struct Entry {
        MxResult result;
        std::uint64_t expires_ms;
    };
    using List = std::list<Entry>;  // most recently used first
    std::size_t capacity_;
    List lru_;
    std::unordered_map<std::string, List::iterator> map_;
};

}  // namespace ringmail::relay
