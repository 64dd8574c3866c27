/* The pack merge plan (ledger/packmerge.c): size tiers of factor 8 above 512 KiB, merged 8 at a
 * time with every smaller pack. */
#include "packmerge.h"

#include <criterion/criterion.h>

#define K ((uint64_t)1 << 10)
#define M ((uint64_t)1 << 20)

Test(packmerge, plan)
{
    uint64_t seven[] = {2 * M, 2 * M, 2 * M, 2 * M, 2 * M, 2 * M, 2 * M};
    cr_assert_eq(afs_pack_merge_plan(seven, 7), 0, "7 batch packs of one tier stay");
    uint64_t eight[] = {2 * M, 2 * M, 2 * M, 2 * M, 2 * M, 2 * M, 2 * M, 3 * M};
    cr_assert_eq(afs_pack_merge_plan(eight, 8), 8, "the 8th of a tier merges the tier");
    /* a small pack below a full tier is merged with it; a larger tier with fewer stays */
    uint64_t mixed[] = {10 * K, 1 * M, 1 * M, 1 * M, 1 * M, 1 * M, 1 * M, 1 * M, 1 * M, 20 * M,
                        30 * M};
    cr_assert_eq(afs_pack_merge_plan(mixed, 11), 9);
    /* the lowest full tier decides, even with a full tier above it */
    uint64_t two[] = {1 * K, 1 * K, 1 * K, 1 * K, 1 * K, 1 * K, 1 * K, 1 * K,
                      8 * M, 8 * M, 8 * M, 8 * M, 8 * M, 8 * M, 8 * M, 8 * M};
    cr_assert_eq(afs_pack_merge_plan(two, 16), 8);
    uint64_t one[] = {5 * M};
    cr_assert_eq(afs_pack_merge_plan(one, 1), 0);
    cr_assert_eq(afs_pack_merge_plan(one, 0), 0);
    /* geometric: 8 packs of each of three tiers at most 7 left after merging */
    uint64_t grown[] = {1 * M, 1 * M, 15 * M, 120 * M, 120 * M};
    cr_assert_eq(afs_pack_merge_plan(grown, 5), 0);
}
