// tests/mime/quoted_printable_test.cpp — placeholder until the quoted_printable tests land.
#include <gtest/gtest.h>

TEST(Placeholder, quoted_printable) { GTEST_SKIP() << "not written yet"; }
