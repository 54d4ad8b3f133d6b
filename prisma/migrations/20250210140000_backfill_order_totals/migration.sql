-- Hand-written data migration: totals were computed in the API before this release.
DO $$
DECLARE
  updated integer;
BEGIN
  UPDATE "Order" o
     SET "totalCents" = sub.total
    FROM (SELECT "orderId", SUM("quantity" * "priceCents")::integer AS total
            FROM "OrderItem" GROUP BY "orderId") sub
   WHERE sub."orderId" = o."id" AND o."totalCents" = 0;
  GET DIAGNOSTICS updated = ROW_COUNT;
  RAISE NOTICE 'backfilled % order totals', updated;
END
$$;
