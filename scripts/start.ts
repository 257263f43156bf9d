// Entry point for `npm start`. Not built yet: see issue 6.
process.stderr.write('start: not implemented yet\n');
process.exit(2);
