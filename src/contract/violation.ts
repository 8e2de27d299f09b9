/** Thrown when a pre- or postcondition of a contract does not hold. */
export class ContractViolation extends Error {
  readonly contractId: string;
  readonly clause: string;
  readonly kind: 'pre' | 'post';
  readonly values: unknown;

  constructor(contractId: string, kind: 'pre' | 'post', clause: string, values: unknown) {
    super(`contract ${contractId}: ${kind}condition '${clause}' violated (values: ${describeValues(values)})`);
    this.name = 'ContractViolation';
    this.contractId = contractId;
    this.clause = clause;
    this.kind = kind;
    this.values = values;
  }
}

function describeValues(values: unknown): string {
  try {
    const text = JSON.stringify(values, (_k, v: unknown) => {
      if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
        const arr = Array.from(v as unknown as ArrayLike<number>);
        return arr.length > 8 ? `[${arr.slice(0, 8).join(', ')}, … (${arr.length})]` : arr;
      }
      if (typeof v === 'bigint') return v.toString();
      return v;
    });
    return text.length > 300 ? `${text.slice(0, 300)}…` : text;
  } catch {
    return String(values);
  }
}
