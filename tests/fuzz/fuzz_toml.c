/* fuzz_toml.c - libFuzzer harness: the TOML reader (src/toml.c) and
 * validation, through mb_config_load() on a file named *.toml. */
#include "build-config.h"

#include "fuzz-common.h"

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_setup ();
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  fuzz_load_config (data, size, "input.toml");
  return 0;
}
