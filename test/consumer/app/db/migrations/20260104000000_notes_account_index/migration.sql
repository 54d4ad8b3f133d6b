-- CreateIndex
CREATE INDEX CONCURRENTLY "Note_accountId_idx" ON "Note"("accountId");
