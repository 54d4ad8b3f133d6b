#!/usr/bin/env bash
# `pnpm test:consumer`: vpc-migrate as a team installs it. `pnpm pack`s this repository, copies
# the sample application (test/consumer/app: its own package.json, prisma.config.ts pointing at
# db/migrations, 4 migrations, a TypeScript CDK app importing vpc-migrate/cdk into a stack with
# an imported VPC, database and KMS-encrypted secret) to a folder outside the repository, and
# for each package manager (pnpm, then npm; or those named: `run.sh npm`) installs the tarball
# and checks, as a user would run them:
#   deploy --local applies the 4 migrations of the configured folder; status --local exits 0;
#   from a subdirectory, relative --migrations and --backfills resolve there;
#   cdk synth succeeds with the worker asset byte-for-byte the package's prebuilt one (no esbuild
#   installed); the app type-checks; the ESM build and the programmatic API work.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
managers=("$@")
[ ${#managers[@]} -gt 0 ] || managers=(pnpm npm)

# A user's shell, not this repository's package script: no inherited npm_* / INIT_CWD.
unset INIT_CWD $(env | grep -o '^npm_[A-Za-z_]*' || true)
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true

work=$(mktemp -d /tmp/vpcm-consumer.XXXXXX)
chmod 755 "$work" # the embedded PostgreSQL runs as the postgres user when we are root
trap 'rm -rf "$work"' EXIT

fail() { echo "consumer ($pm): $*" >&2; exit 1; }
expect_exit() { # expect_exit CODE LOG command…
  local want=$1 log=$2 got=0
  shift 2
  "$@" >"$log" 2>&1 || got=$?
  [ "$got" = "$want" ] || { cat "$log"; fail "'$*' exited $got, expected $want"; }
}

(cd "$repo" && pnpm pack --pack-destination "$work" >"$work/pack.log" 2>&1) || { cat "$work/pack.log"; exit 1; }
tarball=$(ls "$work"/vpc-migrate-*.tgz)
echo "packed $(basename "$tarball") ($(du -k "$tarball" | cut -f1) KB)"

for pm in "${managers[@]}"; do
  app="$work/$pm-app"
  cp -r "$repo/test/consumer/app" "$app"
  sed -i "s#__TARBALL__#$tarball#" "$app/package.json"
  cd "$app"
  case "$pm" in
    pnpm)
      pnpm install >install.log 2>&1 || { cat install.log; fail "pnpm install failed"; }
      vpcm() { pnpm exec vpc-migrate "$@"; }
      cdk() { pnpm exec cdk "$@"; }
      tsc() { pnpm exec tsc "$@"; }
      ;;
    npm)
      rm pnpm-workspace.yaml
      npm install --no-audit --no-fund --loglevel=error >install.log 2>&1 || { cat install.log; fail "npm install failed"; }
      vpcm() { npx --no-install vpc-migrate "$@"; }
      cdk() { npx --no-install cdk "$@"; }
      tsc() { npx --no-install tsc "$@"; }
      ;;
    *) fail "unknown package manager" ;;
  esac
  echo "== $pm: installed (vpc-migrate $(node -p "require('vpc-migrate/package.json').version"))"

  # The CLI alone: what the vpc-migrate package brings (its own folder and its dependencies).
  [ -e node_modules/esbuild ] && fail "esbuild is installed in the sample app: synth could bundle instead of using the prebuilt worker"

  expect_exit 0 deploy.log vpcm deploy --local
  grep -q 'Applied 4 migration' deploy.log || { cat deploy.log; fail "deploy did not apply the 4 migrations"; }
  grep -q "$app/db/migrations" deploy.log || { cat deploy.log; fail "deploy's header does not name $app/db/migrations"; }
  expect_exit 0 status.log vpcm status --local
  echo "   deploy --local: 4 applied from db/migrations (prisma.config.ts); status --local: exit 0"

  mkdir -p src/jobs db/backfills
  printf 'UPDATE "Note" SET body = body;\n' >db/backfills/touch_notes.sql
  (
    cd src/jobs
    expect_exit 0 ../../sub-status.log vpcm status --local --migrations ../../db/migrations --json
    node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); if (r.plan.applied.length !== 4) throw new Error("status from src/jobs saw " + r.plan.applied.length + " applied")' ../../sub-status.log
    expect_exit 2 ../../sub-missing.log vpcm status --local --migrations db/migrations
    grep -q "$app/src/jobs/db/migrations" ../../sub-missing.log || { cat ../../sub-missing.log; fail "a relative --migrations was not resolved from src/jobs"; }
    expect_exit 0 ../../sub-backfill.log vpcm backfill touch_notes --local --backfills ../../db/backfills
  )
  echo "   from src/jobs: --migrations ../../db/migrations and --backfills ../../db/backfills resolve there"

  expect_exit 0 typecheck.log tsc -p tsconfig.json # type-checks the CommonJS app against vpc-migrate/cdk's types, emits build/
  expect_exit 0 synth.log cdk synth --quiet
  worker_asset=""
  for f in cdk.out/asset.*/index.mjs; do cmp -s "$f" node_modules/vpc-migrate/dist/worker/index.mjs && worker_asset=$f; done
  [ -n "$worker_asset" ] || fail "no synthesised asset is the package's prebuilt dist/worker/index.mjs"
  grep -q '"kms:Decrypt"' cdk.out/ApiDatabaseMigrations.template.json || fail "the worker got no kms:Decrypt on the secret's key"
  echo "   cdk synth: worker asset = the package's prebuilt bundle, kms:Decrypt granted"

  expect_exit 0 esm.log node esm-check.mjs
  expect_exit 0 api.log node api-check.mjs
  echo "   tsc (CommonJS app, NodeNext): ok; $(cat esm.log); $(cat api.log)"

  # A failing migration through the app's own package script: the resolve command it prints is
  # run exactly as printed (through sh), and does what it says.
  [ "$(vpcm --version)" = "$(node -p "require('vpc-migrate/package.json').version")" ] || fail "vpc-migrate --version does not print the package's version"
  mkdir db/migrations/20260105000000_broken
  printf 'SELECT 1/0;\n' >db/migrations/20260105000000_broken/migration.sql
  if [ "$pm" = npm ]; then expect_exit 2 failed.log npm run migrate:remote -- --local; else expect_exit 2 failed.log pnpm migrate:remote --local; fi
  printed=$(grep -o '`[^`]*resolve --rolled-back 20260105000000_broken[^`]*`' failed.log | head -n 1 | tr -d '`')
  [ -n "$printed" ] || { cat failed.log; fail "the failed deploy printed no resolve command"; }
  expect_exit 0 resolved.log sh -c "$printed"
  rm -r db/migrations/20260105000000_broken
  expect_exit 0 after.log vpcm status --local
  echo "   printed after a failure, run as printed: $printed"
  cd "$work"
done
echo "consumer: ok (${managers[*]})"
