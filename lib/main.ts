/** The bundle's entry (bin/kubepki.cjs runs it): the command line of this process. */
import { main } from './cli.js';

void main();
