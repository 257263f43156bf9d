// Entry point for `npm run broker`. Not built yet: see the open issue for broker/.
process.stderr.write('broker: not implemented yet\n');
process.exit(2);
