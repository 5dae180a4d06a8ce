// relay/mx_cache.cpp — bounded LRU of MX answers with TTL expiry.
#include "relay/mx_cache.hpp"

namespace ringmail::relay {

const MxResult* MxCache::get(const std::string& domain, std::uint64_t now_ms, std::uint32_t* remaining) {
    const auto it = map_.find(domain);
    if (it == map_.end()) return nullptr;
    if (it->second->expires_ms <= now_ms) {
        lru_.erase(it->second);
        map_.erase(it);
        return nullptr;
    }
    lru_.splice(lru_.begin(), lru_, it->second);
    if (remaining) *remaining = static_cast<std::uint32_t>((it->second->expires_ms - now_ms + 999) / 1000);
    return &it->second->result;
}

void MxCache::put(const MxResult& r, std::uint64_t now_ms) {
    if (r.ttl == 0 || capacity_ == 0) return;
    const std::uint64_t expires = now_ms + std::uint64_t(r.ttl) * 1000;
    if (const auto it = map_.find(r.domain); it != map_.end()) {
        it->second->result = r;
        it->second->expires_ms = expires;
        lru_.splice(lru_.begin(), lru_, it->second);
        return;
    }
    if (map_.size() >= capacity_) {
        map_.erase(lru_.back().result.domain);
        lru_.pop_back();
    }
    lru_.push_front(Entry{r, expires});
    map_.emplace(r.domain, lru_.begin());
}

}  // namespace ringmail::relay
