// Entry point for `npm run bench`. Not built yet: see issue 6.
process.stderr.write('bench: not implemented yet\n');
process.exit(2);
