/* The pack merge plan (ledger/packmerge.c): size tiers of factor 16 above 1 MiB, merged 16 at a
 * time with every smaller pack. */
#include "packmerge.h"

#include <criterion/criterion.h>

#define K ((uint64_t)1 << 10)
#define M ((uint64_t)1 << 20)

static size_t
plan_of(uint64_t small, size_t nsmall, uint64_t big, size_t nbig)
{
    uint64_t s[64];
    size_t n = 0;
    for (size_t i = 0; i < nsmall; i++)
        s[n++] = small;
    for (size_t i = 0; i < nbig; i++)
        s[n++] = big;
    return afs_pack_merge_plan(s, n);
}

Test(packmerge, plan)
{
    cr_assert_eq(AFS_PACK_FANIN, 16);
    cr_assert_eq(plan_of(2 * M, 15, 0, 0), 0, "15 batch packs of one tier stay");
    cr_assert_eq(plan_of(2 * M, 16, 0, 0), 16, "the 16th of a tier merges the tier");
    /* a small pack below a full tier is merged with it; a larger tier with fewer stays */
    uint64_t mixed[20] = {10 * K};
    for (int i = 1; i <= 16; i++)
        mixed[i] = 1 * M + (uint64_t)i;
    mixed[17] = 20 * M;
    mixed[18] = 30 * M;
    cr_assert_eq(afs_pack_merge_plan(mixed, 19), 17);
    /* the lowest full tier decides, even with a full tier above it */
    cr_assert_eq(plan_of(1 * K, 16, 20 * M, 16), 16);
    /* fewer than 16 in every tier: nothing */
    cr_assert_eq(plan_of(100 * K, 15, 20 * M, 15), 0);
    uint64_t one[] = {5 * M};
    cr_assert_eq(afs_pack_merge_plan(one, 1), 0);
    cr_assert_eq(afs_pack_merge_plan(one, 0), 0);
}
