-- Hand-edited: build the index without blocking writes on a busy table.
-- CONCURRENTLY cannot run inside a transaction block, so it stays alone in its file.
CREATE INDEX CONCURRENTLY IF NOT EXISTS "Order_customerId_createdAt_idx" ON "Order"("customerId", "createdAt");
