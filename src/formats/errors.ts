/** A malformed or unsupported input file. The message names the file and the field. */
export class FormatError extends Error {
  readonly file: string;
  readonly field: string;

  constructor(file: string, field: string, message: string) {
    super(`${file}: ${field}: ${message}`);
    this.name = 'FormatError';
    this.file = file;
    this.field = field;
  }
}
