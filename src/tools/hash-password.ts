/** Prints the passwordHash for a password given on standard input (not as an argument: it would stay in the shell history). */
import { hashPassword } from '../api/passwords.js';

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk: string) => (input += chunk));
process.stdin.on('end', () => {
  const password = input.replace(/\r?\n$/, '');
  if (password === '') {
    console.error('usage: echo -n <password> | npm run -s hash-password');
    process.exit(2);
  }
  console.log(hashPassword(password));
});
