// bench/loadgen/histogram.cpp — bucket arithmetic of the log-linear histogram.
// For v >= 128 with its top bit at position m, shift s = m - 6 keeps v >> s in [64, 128).
#include "histogram.hpp"

#include <algorithm>
#include <cmath>

namespace ringmail::bench {

unsigned Histogram::index(std::uint64_t v) noexcept {
    if (v < (1u << kSubBits)) return static_cast<unsigned>(v);
    const unsigned top = 63u - static_cast<unsigned>(__builtin_clzll(v));
    const unsigned shift = top - (kSubBits - 1);
    return (1u << kSubBits) + (shift - 1) * kHalf + static_cast<unsigned>((v >> shift) - kHalf);
}

std::uint64_t Histogram::middle(unsigned idx) noexcept {
    if (idx < (1u << kSubBits)) return idx;
    const unsigned shift = (idx - (1u << kSubBits)) / kHalf + 1;
    const std::uint64_t sub = (idx - (1u << kSubBits)) % kHalf + kHalf;
    return (sub << shift) + ((std::uint64_t{1} << shift) >> 1);
}

void Histogram::record(std::uint64_t ns) noexcept {
    ++counts_[index(ns)];
    ++count_;
    sum_ += ns;
    max_ = std::max(max_, ns);
}

void Histogram::merge(const Histogram& other) noexcept {
    for (unsigned i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
    count_ += other.count_;
    sum_ += other.sum_;
    max_ = std::max(max_, other.max_);
}

std::uint64_t Histogram::quantile(double q) const noexcept {
    if (count_ == 0) return 0;
    const auto rank = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil(q * double(count_))));
    std::uint64_t seen = 0;
    for (unsigned i = 0; i < kBuckets; ++i) {
        seen += counts_[i];
        if (seen >= rank) return std::min(middle(i), max_);
    }
    return max_;
}

}  // namespace ringmail::bench
