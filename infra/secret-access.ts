/**
 * Read access to exactly one secret, the least a function needs to log in with it.
 */
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
  iam.Grant.addToPrincipal({ grantee, actions: ['secretsmanager:GetSecretValue'], resourceArns: [secretArn] });
  if (!encryptionKey) return;
  iam.Grant.addToPrincipal({
    grantee,
    actions: ['kms:Decrypt'],
    resourceArns: [encryptionKey.keyArn],
    conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${secret.env.region}.amazonaws.com` } },
  });
}
