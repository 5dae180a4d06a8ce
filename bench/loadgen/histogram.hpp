// bench/loadgen/histogram.hpp — latency histogram with log-linear buckets (HdrHistogram's
// layout): exact below 128 ns, then 64 buckets per power of two, so a reported
// percentile is within 1/64 (1.6%) of the true value. Fixed size, no allocation per record.
#pragma once

#include <array>
#include <cstdint>

namespace ringmail::bench {

class Histogram {
public:
    void record(std::uint64_t ns) noexcept;
    void merge(const Histogram& other) noexcept;
    std::uint64_t count() const noexcept { return count_; }
    std::uint64_t max() const noexcept { return max_; }
    double mean() const noexcept { return count_ ? double(sum_) / double(count_) : 0.0; }
    // The value at quantile q (0..1]: the middle of the bucket that holds the
    // ceil(q * count)-th smallest sample, never above max().
    std::uint64_t quantile(double q) const noexcept;

private:
    static constexpr unsigned kSubBits = 7;  // 128 linear values, then 64 per octave
    static constexpr unsigned kHalf = 1u << (kSubBits - 1);
    static constexpr unsigned kBuckets = (1u << kSubBits) + (64 - kSubBits) * kHalf;
    static unsigned index(std::uint64_t v) noexcept;
    static std::uint64_t middle(unsigned idx) noexcept;

    std::array<std::uint64_t, kBuckets> counts_{};
    std::uint64_t count_ = 0;
    std::uint64_t sum_ = 0;
    std::uint64_t max_ = 0;
};

}  // namespace ringmail::bench
