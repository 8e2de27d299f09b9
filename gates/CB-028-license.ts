import { z } from 'zod';
import { defineCheck, outcome, type Finding } from './lib/types.js';

const LICENSE_FILES = ['LICENSE', 'LICENSE.md', 'LICENSE.txt', 'LICENCE', 'LICENCE.md', 'COPYING'];
const SPDX_LIKE = /^(\(?[A-Za-z0-9.+-]+( (AND|OR|WITH) [A-Za-z0-9.+-]+)*\)?|SEE LICENSE IN .+)$/;

/** A license file and a matching package.json `license` field. */
export const license = defineCheck({
  id: 'CB-028',
  name: 'license',
  description: 'a LICENSE file and an SPDX license field in package.json',
  thresholds: z.object({}),
  run(ctx) {
    const file = LICENSE_FILES.find((f) => ctx.exists(f));
    const field = ctx.packageJson()?.['license'];
    const findings: Finding[] = [];
    if (!file) findings.push({ level: 'fail', message: `no license file (${LICENSE_FILES.slice(0, 2).join(', ')}, ...)` });
    if (typeof field !== 'string' || !SPDX_LIKE.test(field)) findings.push({ level: 'fail', file: 'package.json', message: 'no SPDX "license" field' });
    else if (file && field !== 'UNLICENSED' && !/^SEE LICENSE/.test(field)) {
      const id = field.replace(/[()]/g, '').split(' ')[0] ?? field;
      const text = ctx.text(file) ?? '';
      if (!text.toLowerCase().includes(id.replace(/-\d.*$/, '').toLowerCase())) findings.push({ level: 'warn', file, message: `does not mention '${id}' from package.json` });
    }
    return outcome(`${file ?? 'no license file'}, package.json license ${typeof field === 'string' ? `'${field}'` : 'missing'}`, findings);
  },
});
