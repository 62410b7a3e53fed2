/* fuzz_config.c - libFuzzer harness: libconfuse-syntax configuration files,
 * include() expansion and validation, through mb_config_load(). */
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
  /* Any name but *.toml selects the libconfuse reader. */
  fuzz_load_config (data, size, "input.conf");
  return 0;
}
