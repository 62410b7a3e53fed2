/* Tests for src/balancer.c */
#include "build-config.h"

#include "balancer.h"
#include "testutil.h"

/* Connection k goes first to backend ((k - 1) mod n) + 1. */
START_TEST (test_round_robin_order)
{
  for (guint n = 1; n <= 7; n++)
    {
      MbBalancer balancer;

      mb_balancer_init (&balancer, MB_BALANCE_ROUND_ROBIN, n);
      for (guint k = 1; k <= 100; k++)
        ck_assert_uint_eq (mb_balancer_pick (&balancer), (k - 1) % n);
    }
}
END_TEST

/* Failover walks the following backends in order, wrapping around, and does
 * not move the counter. */
START_TEST (test_failover_order)
{
  MbBalancer balancer;
  guint first;

  mb_balancer_init (&balancer, MB_BALANCE_ROUND_ROBIN, 3);
  ck_assert_uint_eq (mb_balancer_pick (&balancer), 0);
  first = mb_balancer_pick (&balancer);
  ck_assert_uint_eq (first, 1);
  ck_assert_uint_eq (mb_balancer_next (&balancer, first, 0), 1);
  ck_assert_uint_eq (mb_balancer_next (&balancer, first, 1), 2);
  ck_assert_uint_eq (mb_balancer_next (&balancer, first, 2), 0);
  ck_assert_uint_eq (mb_balancer_pick (&balancer), 2);
  ck_assert_uint_eq (mb_balancer_pick (&balancer), 0);
}
END_TEST

/* Separate balancers (frontends) keep separate counters. */
START_TEST (test_separate_counters)
{
  MbBalancer a, b;

  mb_balancer_init (&a, MB_BALANCE_ROUND_ROBIN, 2);
  mb_balancer_init (&b, MB_BALANCE_ROUND_ROBIN, 3);
  ck_assert_uint_eq (mb_balancer_pick (&a), 0);
  ck_assert_uint_eq (mb_balancer_pick (&b), 0);
  ck_assert_uint_eq (mb_balancer_pick (&b), 1);
  ck_assert_uint_eq (mb_balancer_pick (&a), 1);
  ck_assert_uint_eq (mb_balancer_pick (&b), 2);
  ck_assert_uint_eq (mb_balancer_pick (&a), 0);
}
END_TEST

static Suite *
balancer_suite (void)
{
  Suite *suite = suite_create ("balancer");
  TCase *tc = tcase_create ("round-robin");

  tcase_add_test (tc, test_round_robin_order);
  tcase_add_test (tc, test_failover_order);
  tcase_add_test (tc, test_separate_counters);
  suite_add_tcase (suite, tc);
  return suite;
}

RUN_SUITE (balancer_suite)
