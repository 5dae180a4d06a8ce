// mime/encoded_words.cpp — placeholder; being written.
#include "mime/encoded_words.hpp"
