/**
 * Read access to exactly one secret, the least a function needs to log in with it.
 */
import { Annotations, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';

/**
 * `secretsmanager:GetSecretValue` on `secret` alone (no DescribeSecret, no list), and, for a
 * customer-managed key, `kms:Decrypt` only when Secrets Manager asks on the grantee's behalf. An
 * identity-policy statement, because an imported key's policy cannot be edited from here
 * (`key.grantDecrypt(new ViaServicePrincipal(…))` adds nothing for one).
 */
export function grantSecretRead(
  grantee: iam.IGrantable,
  secret: secretsmanager.ISecret,
  encryptionKey?: kms.IKey,
): void {
  // A secret known by partial ARN: match its random suffix, and nothing broader.
  const secretArn = secret.secretFullArn ?? `${secret.secretArn}-??????`;
  if (!secret.secretFullArn) warnIfSuffixLike(secret);
  iam.Grant.addToPrincipal({ grantee, actions: ['secretsmanager:GetSecretValue'], resourceArns: [secretArn] });
  if (!encryptionKey) return;
  iam.Grant.addToPrincipal({
    grantee,
    actions: ['kms:Decrypt'],
    resourceArns: [encryptionKey.keyArn],
    conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${secret.env.region}.amazonaws.com` } },
  });
}

/**
 * Secrets Manager takes a partial ARN whose name ends in a hyphen and six characters for a
 * complete one, and then finds no secret: said at synth, not as ResourceNotFound at run time.
 */
function warnIfSuffixLike(secret: secretsmanager.ISecret): void {
  const name = secret.secretName;
  if (Token.isUnresolved(name) || !/-[A-Za-z0-9]{6}$/.test(name)) return;
  Annotations.of(secret).addWarningV2(
    'vpc-migrate:partialSecretArn',
    `The secret "${name}" is known by partial ARN and its name ends in a hyphen and six characters: Secrets ` +
      'Manager would read it as a complete ARN and not find it. Import it with Secret.fromSecretCompleteArn.',
  );
}
