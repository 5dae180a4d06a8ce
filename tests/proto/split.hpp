// tests/proto/split.hpp — for_each_split: feed a parser every interesting split of one
// input (whole, 1-byte pieces, pieces of 2/7/64, every two-way split of short inputs),
// so each test proves invariant 3: the split does not change the result.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

namespace ringmail::test {

using Pieces = std::vector<std::string_view>;

inline Pieces split_every(std::string_view in, std::size_t n) {
    Pieces p;
    for (std::size_t i = 0; i < in.size(); i += n) p.push_back(in.substr(i, n));
    return p;
}

inline Pieces split_at(std::string_view in, std::size_t cut) {
    return {in.substr(0, cut), in.substr(cut)};
}

// Inputs up to this size also get every two-way split (quadratic, so bounded).
inline constexpr std::size_t kTwoWayMax = 4096;

// Calls `check(pieces)` for each split; SCOPED_TRACE names the split on failure.
template <class F>
void for_each_split(std::string_view in, F&& check, std::size_t two_way_max = kTwoWayMax) {
    {
        SCOPED_TRACE("whole");
        check(Pieces{in});
    }
    for (std::size_t n : {std::size_t{1}, std::size_t{2}, std::size_t{7}, std::size_t{64}}) {
        SCOPED_TRACE("pieces of " + std::to_string(n));
        check(split_every(in, n));
    }
    if (in.size() > two_way_max) return;
    for (std::size_t cut = 1; cut < in.size(); ++cut) {
        SCOPED_TRACE("cut at " + std::to_string(cut));
        check(split_at(in, cut));
        if (::testing::Test::HasFailure()) return;  // one failing cut is enough to read
    }
}

}  // namespace ringmail::test
