/* stats.c - the connect-time histogram; see stats.h. */
#include "build-config.h"

#include "stats.h"

/* From half a millisecond (loopback) to ten seconds (a slow network and a
 * long connect_timeout). */
const guint64 mb_connect_bucket_bounds_us[MB_CONNECT_BUCKETS - 1] = {
  500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
  1000000, 2500000, 10000000,
};

void
mb_connect_histogram_add (MbConnectHistogram *histogram, guint64 elapsed_us)
{
  guint i = 0;

  while (i < MB_CONNECT_BUCKETS - 1 && elapsed_us > mb_connect_bucket_bounds_us[i])
    i++;
  mb_counter_inc (&histogram->buckets[i]);
  mb_counter_add (&histogram->sum_us, elapsed_us);
  mb_counter_inc (&histogram->count);
}
