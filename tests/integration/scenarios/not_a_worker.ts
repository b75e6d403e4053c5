// A module that never calls runOnLcore (for misuse.ts): launching it must time out clearly.
export const nothing = 0;
