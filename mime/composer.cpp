// mime/composer.cpp — placeholder; being written.
#include "mime/composer.hpp"
