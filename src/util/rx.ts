// The parts of RxJS that Perch uses, each from its own module. rxjs's index loads all of its ~220
// modules (every operator and observable factory) at start: about 0.8 MB of V8 heap and 2 MB of RSS
// on every node for code that never runs. These paths are in rxjs's published export map
// (`./internal/*`); the version is pinned, and an upgrade that moves one fails the build here.
export { lastValueFrom } from 'rxjs/internal/lastValueFrom';
export { Observable } from 'rxjs/internal/Observable';
export { from } from 'rxjs/internal/observable/from';
export { merge } from 'rxjs/internal/observable/merge';
export { NEVER } from 'rxjs/internal/observable/never';
export { filter } from 'rxjs/internal/operators/filter';
export { map } from 'rxjs/internal/operators/map';
export { takeWhile } from 'rxjs/internal/operators/takeWhile';
export { tap } from 'rxjs/internal/operators/tap';
export { Subject } from 'rxjs/internal/Subject';
export type { Subscriber } from 'rxjs/internal/Subscriber';
export type { Subscription } from 'rxjs/internal/Subscription';
export { asyncScheduler } from 'rxjs/internal/scheduler/async';
export { VirtualTimeScheduler } from 'rxjs/internal/scheduler/VirtualTimeScheduler';
export type { MonoTypeOperatorFunction, OperatorFunction, SchedulerLike } from 'rxjs/internal/types';
export { identity } from 'rxjs/internal/util/identity';
